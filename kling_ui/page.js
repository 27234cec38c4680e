() => {
  // Ctrl/Cmd+Enter generates from anywhere on the page.
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      const btn = document.querySelector("#generate-btn");
      if (btn) { e.preventDefault(); btn.click(); }
    }
  });
  window.__klingBaseTitle = document.title || "Kling image to video";
}
