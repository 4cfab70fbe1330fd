/* The panel's forms. Select2 4.0.13 under FAB's jQuery opens a picker (the block, the service) without putting
   the cursor in its search box, so what the operator types went nowhere: the open picker's box takes it. Its
   few messages ("No results found") in the page's language, set before FAB's ready handler builds the pickers. */
(function () {
  if (!window.jQuery) { return; }
  var bulgarian = /^bg/.test(document.documentElement.lang || "bg");
  if (bulgarian && jQuery.fn.select2 && jQuery.fn.select2.defaults) {
    jQuery.fn.select2.defaults.set("language", {
      noResults: function () { return "Няма намерени"; },
      searching: function () { return "Търсене…"; },
      errorLoading: function () { return "Не може да се зареди"; },
      removeAllItems: function () { return "Премахни всички"; },
      loadingMore: function () { return "Още…"; },
      inputTooShort: function (args) { return "Въведете още " + (args.minimum - args.input.length) + " знака"; },
      maximumSelected: function (args) { return "Може да изберете до " + args.maximum; }
    });
  }
  jQuery(document).on("select2:open", function () {
    var box = document.querySelector(".select2-container--open .select2-search__field");
    if (box) { box.focus(); }
  });
}());
