// Boxes that scroll sideways (a long formula, a wide table or a code line on a phone) show that they
// do: the edge behind which more is hidden fades out (signbook.css: .signbook-more-right/-left), and
// the fade follows the reader's scrolling. Marked once MathJax has typeset the page and on resize.
(function () {
  "use strict";
  const BOXES = [
    ".bd-article span.math",
    ".bd-article mjx-container[display='true']",
    ".bd-article div.highlight pre",
    ".bd-article .pst-scrollable-table-container",
  ].join(", ");
  function mark(box) {
    const hidden = box.scrollWidth - box.clientWidth;
    box.classList.toggle("signbook-more-right", hidden > 1 && box.scrollLeft < hidden - 1);
    box.classList.toggle("signbook-more-left", hidden > 1 && box.scrollLeft > 1);
  }
  function markAll() {
    document.querySelectorAll(BOXES).forEach(function (box) {
      if (!box.dataset.signbookWatched) {
        box.dataset.signbookWatched = "1";
        box.addEventListener("scroll", function () { mark(box); }, { passive: true });
      }
      mark(box);
    });
  }
  window.addEventListener("load", function () {
    markAll();
    const mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) mathjax.startup.promise.then(markAll);
    window.addEventListener("resize", markAll);
  });
})();
