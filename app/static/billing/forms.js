/* The panel's forms. Select2 4.0.13 under FAB's jQuery opens a picker (the block, the service) without putting
   the cursor in its search box, so what the operator types went nowhere: the open picker's box takes it. */
(function () {
  if (!window.jQuery) { return; }
  jQuery(document).on("select2:open", function () {
    var box = document.querySelector(".select2-container--open .select2-search__field");
    if (box) { box.focus(); }
  });
}());
