// Logging out hands the tablet over: unsaved drafts that pages keep in this browser (keys
// "<what>-draft:…", such as observation vitals) leave with the user.
(function () {
  var form = document.getElementById("logout-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    try {
      Object.keys(localStorage)
        .filter(function (key) { return /^[\w-]+-draft:/.test(key); })
        .forEach(function (key) { localStorage.removeItem(key); });
    } catch (e) { /* storage disabled: nothing was kept */ }
  });
})();
