// Follow a bulk job: poll its progress as JSON and update the counts; reload the page once it has finished.
(function () {
  "use strict";
  var box = document.getElementById("bulk-progress");
  if (!box || box.dataset.finished === "true") { return; }
  var url = box.dataset.progressUrl;
  var bar = document.getElementById("job-bar");

  function show(progress) {
    box.querySelectorAll("[data-field]").forEach(function (node) {
      var value = progress[node.dataset.field];
      if (value !== undefined) { node.textContent = String(value); }
    });
    if (bar) { bar.value = progress.done + progress.failed + progress.skipped; }
    if (progress.finished || String(progress.stalled) !== box.dataset.stalled) { window.location.reload(); return; }
    window.setTimeout(poll, 1000);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(show)
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  window.setTimeout(poll, 1000);
}());
