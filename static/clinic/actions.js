// Small page actions, attached here because the Content-Security-Policy allows no inline
// handlers: a Print button, and read-only fields (token, feed address) that select
// themselves on a tap so they can be copied.
(function () {
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-print]")) {
      window.print();
    } else if (target.matches && target.matches("input[data-select-on-click]")) {
      target.select();
    }
  });
})();
