// The one day picker of the panel: dd.mm.yyyy, Bulgarian names, weeks from Monday, whatever the browser's
// language. It is FAB's own bootstrap-datepicker (served from FAB's static files, nothing from the internet);
// the server reads what it writes with app.core.validators.parse_day.
// FAB's ab.js starts its pickers with yyyy-mm-dd first; this runs after it and starts them again. FAB's
// ab_filters.js calls $.fn.datetimepicker (a library it does not ship) on a filter added to a list: here
// that is this picker too.
(function ($) {
  if (!$.fn.datepicker) { return; }
  $.fn.datepicker.dates.bg = {
    days: ["Неделя", "Понеделник", "Вторник", "Сряда", "Четвъртък", "Петък", "Събота"],
    daysShort: ["Нед", "Пон", "Вто", "Сря", "Чет", "Пет", "Съб"],
    daysMin: ["Н", "П", "В", "С", "Ч", "П", "С"],
    months: ["Януари", "Февруари", "Март", "Април", "Май", "Юни", "Юли", "Август", "Септември", "Октомври",
             "Ноември", "Декември"],
    monthsShort: ["Ян", "Фев", "Мар", "Апр", "Май", "Юни", "Юли", "Авг", "Сеп", "Окт", "Ное", "Дек"],
    today: "днес",
    clear: "изчисти",
    weekStart: 1,
    format: "dd.mm.yyyy"
  };
  // forceParse off: what is typed stays as typed when the field is left; the server says if it is no day.
  var options = {language: "bg", format: "dd.mm.yyyy", weekStart: 1, autoclose: true, todayHighlight: true,
                 forceParse: false};
  $.fn.datepicker.defaults.language = "bg";
  $.fn.datepicker.defaults.weekStart = 1;
  $.fn.datepicker.defaults.format = "dd.mm.yyyy";

  function start(element) {
    var $element = $(element);
    var $input = $element.is("input") ? $element : $element.find("input").first();
    // A moment (dd.mm.yyyy hh:mm): picking a day keeps the time typed after it.
    var time = null;
    $element.datepicker("destroy").datepicker(options)
      .on("show", function () {
        var parts = ($input.val() || "").trim().split(/\s+/);
        time = parts.length > 1 ? parts[1] : null;
      })
      .on("changeDate", function () {
        if (time && $element.closest(".appbuilder_datetime").length) {
          $input.val($input.val().split(/\s+/)[0] + " " + time);
        }
      });
  }

  $.fn.datetimepicker = function () {
    return this.each(function () { start(this); });
  };
  $(function () {
    $(".appbuilder_date, .appbuilder_datetime, input.billing-date").each(function () { start(this); });
  });
})(jQuery);
