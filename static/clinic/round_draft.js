// The observation round form keeps what is typed in this browser until the round is saved:
// nothing is lost if the tablet sleeps or the login times out. A draft made before the
// latest round was saved belongs to that round (or is stale), so it is dropped.
// The form carries its draft key and the latest round's id (data-draft-key, data-draft-after).
(function () {
  var form = document.getElementById("round-form");
  if (!form || !form.dataset.draftKey) { return; }
  var notice = document.getElementById("round-draft");
  var key = form.dataset.draftKey;
  var after = form.dataset.draftAfter;
  function read() {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function save() {
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") { values[name] = value; }
    });
    try {
      localStorage.setItem(key, JSON.stringify({ after: after, at: Date.now(), values: values }));
    } catch (e) { /* storage full or disabled: the form still works */ }
  }
  function clear() {
    try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
    notice.hidden = true;
  }
  // The live NEWS2 (htmx) scores the form again on this event; a plain "change" would also
  // store the draft again.
  function rescore() {
    form.dispatchEvent(new Event("news2-rescore"));
  }
  var draft = read();
  if (draft && draft.after !== after) { clear(); draft = null; }
  if (form.dataset.bound === "true") {
    save();  // refused by the server: the page shows what was typed, keep it
  } else if (draft && draft.values) {
    Object.keys(draft.values).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) { field.value = draft.values[name]; }
    });
    document.getElementById("round-draft-at").textContent = new Date(draft.at).toLocaleTimeString(
      [], { hour: "2-digit", minute: "2-digit" }
    );
    notice.hidden = false;
    // htmx binds its triggers on load; score the restored values once it has.
    document.addEventListener("DOMContentLoaded", rescore);
  }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  document.getElementById("round-draft-clear").addEventListener("click", function () {
    clear();
    form.reset();
    rescore();
  });
})();
