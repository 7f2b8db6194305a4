// The scan viewer: the slider, the arrow keys and the "key slice" links change the slice image in place; the
// neighbouring slices are fetched ahead so scrolling does not wait for the server.
(function () {
  var root = document.querySelector("[data-viewer]");
  if (!root) return;
  var slices = parseInt(root.dataset.slices, 10);
  var base = root.dataset.src.replace(/0\.png$/, "");
  var img = document.getElementById("viewer-img");
  var range = document.getElementById("viewer-z");
  var value = document.getElementById("viewer-z-value");
  var windowSelect = document.getElementById("viewer-window");
  var ahead = {};
  function url(z) { return base + z + ".png?window=" + windowSelect.value; }
  function prefetch(z) {
    if (z < 0 || z >= slices || ahead[url(z)]) return;
    var image = new Image(); image.src = url(z); ahead[url(z)] = image;
  }
  function show(z) {
    z = Math.max(0, Math.min(slices - 1, z));
    range.value = z; value.textContent = z + 1;
    img.src = url(z);
    img.alt = "Slice " + (z + 1) + " of " + slices + ", " + windowSelect.value + " window, lesion outlines drawn";
    history.replaceState(null, "", "?z=" + z + "&window=" + windowSelect.value);
    for (var d = 1; d <= 3; d++) { prefetch(z + d); prefetch(z - d); }
  }
  range.addEventListener("input", function () { show(parseInt(range.value, 10)); });
  windowSelect.addEventListener("change", function () { ahead = {}; show(parseInt(range.value, 10)); });
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
