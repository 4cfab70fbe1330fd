// Dates the Bulgarian way in every picker of the panel: dd.mm.yyyy, Bulgarian names, weeks from Monday.
// FAB's ab.js starts its pickers with yyyy-mm-dd first; this runs after it and starts them again.
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
  var options = {language: "bg", format: "dd.mm.yyyy", weekStart: 1, autoclose: true, todayHighlight: true,
                 forceParse: false};
  $.fn.datepicker.defaults.language = "bg";
  $(function () {
    $(".appbuilder_date, .appbuilder_datetime, input.billing-date").each(function () {
      $(this).datepicker("destroy").datepicker(options);
    });
  });
})(jQuery);
