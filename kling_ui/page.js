() => {
  // Ctrl/Cmd+Enter generates from anywhere on the page.
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      const btn = document.querySelector("#generate-btn");
      if (btn) { e.preventDefault(); btn.click(); }
    }
  });
  window.__klingBaseTitle = document.title || "Kling image to video";
  // Gradio puts the copy button inside the textbox's <label>, which then names the button, not the box.
  const nameIt = () => {
    const box = document.querySelector("#gen-id textarea, #gen-id input");
    if (box && !box.getAttribute("aria-label")) box.setAttribute("aria-label", "Generation id");
  };
  nameIt();
  new MutationObserver(nameIt).observe(document.body, { childList: true, subtree: true });
}
