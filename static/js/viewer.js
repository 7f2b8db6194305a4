// The scan viewer: the slider, the arrow keys and the "key slice" links change the slice image in place; the
// neighbouring slices are fetched ahead so scrolling does not wait for the server. Slices are patient data, sent
// with Cache-Control: no-store, so the browser keeps none: the viewer holds the ones it fetched as blob URLs for as
// long as the page is open (data-slice on the image names the slice's own URL).
(function () {
  var root = document.querySelector("[data-viewer]");
  if (!root) return;
  var slices = parseInt(root.dataset.slices, 10);
  var base = root.dataset.src.replace(/0\.png$/, "");
  var img = document.getElementById("viewer-img");
  var range = document.getElementById("viewer-z");
  var value = document.getElementById("viewer-z-value");
  var windowSelect = document.getElementById("viewer-window");
  var ahead = {};  // slice URL -> promise of a blob URL
  function url(z) { return base + z + ".png?window=" + windowSelect.value; }
  function load(u) {
    if (!ahead[u]) {
      ahead[u] = fetch(u, {credentials: "same-origin"}).then(function (response) {
        if (!response.ok) throw new Error("slice " + response.status);
        return response.blob();
      }).then(function (blob) { return URL.createObjectURL(blob); });
      ahead[u].catch(function () { delete ahead[u]; });  // a failed fetch is tried again next time
    }
    return ahead[u];
  }
  function prefetch(z) { if (z >= 0 && z < slices) load(url(z)); }
  function forget() {
    Object.keys(ahead).forEach(function (u) { ahead[u].then(URL.revokeObjectURL, function () {}); });
    ahead = {};
  }
  function show(z) {
    z = Math.max(0, Math.min(slices - 1, z));
    range.value = z; value.textContent = z + 1;
    var wanted = url(z);
    img.dataset.slice = wanted;
    load(wanted).then(function (blobUrl) { if (img.dataset.slice === wanted) img.src = blobUrl; },
                      function () { if (img.dataset.slice === wanted) img.src = wanted; });
    img.alt = "Slice " + (z + 1) + " of " + slices + ", " + windowSelect.value + " window, lesion outlines drawn";
    history.replaceState(null, "", "?z=" + z + "&window=" + windowSelect.value);
    for (var d = 1; d <= 3; d++) { prefetch(z + d); prefetch(z - d); }
  }
  range.addEventListener("input", function () { show(parseInt(range.value, 10)); });
  windowSelect.addEventListener("change", function () { forget(); show(parseInt(range.value, 10)); });
  img.addEventListener("keydown", function (e) {
    var z = parseInt(range.value, 10);
    var step = {ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10}[e.key];
    if (step) { e.preventDefault(); show(z + step); }
  });
  img.addEventListener("wheel", function (e) { e.preventDefault(); show(parseInt(range.value, 10) + (e.deltaY > 0 ? 1 : -1)); },
                       {passive: false});
  root.querySelectorAll(".key-slice").forEach(function (link) {
    link.addEventListener("click", function (e) { e.preventDefault(); show(parseInt(link.dataset.z, 10)); img.focus(); });
  });
  show(parseInt(range.value, 10));
})();
