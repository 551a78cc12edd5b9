(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var version = params.get("version");
  var pkg = params.get("package");
  var settings = { autocommit: false, logLevel: 4 };
  var api;
  var lms = { version: version, commits: [], finished: null, manifest: null, launch: null };
  window.lms = lms;
  function snapshot() { return JSON.parse(JSON.stringify(api.cmi)); }
  if (version === "2004") {
    api = new window.Scorm2004API(settings);
    api.cmi.learner_id = "lms-learner-42";
    api.cmi.learner_name = "Doe, Jan";
    window.API_1484_11 = api;
    api.on("Commit", function () { lms.commits.push(snapshot()); });
    api.on("Terminate", function () { lms.finished = snapshot(); });
  } else {
    api = new window.Scorm12API(settings);
    api.cmi.core.student_id = "lms-learner-42";
    api.cmi.core.student_name = "Doe, Jan";
    window.API = api;
    api.on("LMSCommit", function () { lms.commits.push(snapshot()); });
    api.on("LMSFinish", function () { lms.finished = snapshot(); });
  }
  // A returning learner: the LMS hands back what the SCO stored last time.
  if (params.get("suspend_data")) { api.cmi.suspend_data = params.get("suspend_data"); }
  function byName(doc, name) { return Array.prototype.slice.call(doc.getElementsByTagNameNS("*", name)); }
  fetch(pkg + "/imsmanifest.xml").then(function (r) { return r.text(); }).then(function (text) {
    lms.manifest = text;
    var doc = new DOMParser().parseFromString(text, "application/xml");
    var wanted = byName(doc, "organizations")[0].getAttribute("default");
    var org = byName(doc, "organization").filter(function (o) { return o.getAttribute("identifier") === wanted; })[0];
    var item = byName(org, "item").filter(function (i) { return i.getAttribute("identifierref"); })[0];
    var resource = byName(doc, "resource").filter(function (r) {
      return r.getAttribute("identifier") === item.getAttribute("identifierref");
    })[0];
    lms.launch = pkg + "/" + resource.getAttribute("href");
    document.getElementById("sco").src = lms.launch;
  });
}());
