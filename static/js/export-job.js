/* The export job page: follow the job through its status endpoint
   (lms/exports/views.py, status_payload) until it is done or failed.
   Served as a static file: the CSP allows no inline script. */
(function () {
  "use strict";
  var root = document.querySelector("[data-export-status-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-export-status-url");
  var bar = root.querySelector("progress");
  var message = root.querySelector("[data-export-message]");
  var download = document.querySelector("[data-export-download]");
  var link = document.querySelector("[data-export-link]");
  var size = document.querySelector("[data-export-size]");
  var failure = document.querySelector("[data-export-error]");
  var failureText = document.querySelector("[data-export-error-text]");
  var STATES = { queued: "Queued", running: "Running", done: "Done", failed: "Failed", expired: "Expired" };
  var lastAnnounced = "";

  function render(job) {
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
      bar.textContent = job.percent + "%";
    } else if (job.finished) {
      bar.max = 1;
      bar.value = 1;
    } else {
      bar.removeAttribute("value"); // indeterminate: the size is not known yet
    }
    // The live region speaks on a change of state or of each quarter, not every poll.
    var quarter = job.percent === null ? "" : String(Math.floor(job.percent / 25));
    var text = (STATES[job.state] || job.state) + ": " + job.message;
    if (job.state + quarter !== lastAnnounced || job.finished) {
      lastAnnounced = job.state + quarter;
      message.textContent = text;
    }
    if (job.download_url) {
      link.href = job.download_url;
      link.textContent = "Download " + job.filename;
      if (job.size !== null) { size.textContent = "(" + job.size + " bytes)"; }
      download.hidden = false;
    }
    if (job.error) {
      failureText.textContent = job.error;
      failure.hidden = false;
    }
  }

  function poll(delay) {
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (job) {
          render(job);
          if (!job.finished) { poll(1000); }
        })
        .catch(function () { poll(5000); }); // a restart or a blip: keep trying, more slowly
    }, delay);
  }

  poll(0);
}());
