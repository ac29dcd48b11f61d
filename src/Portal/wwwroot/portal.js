// Small helpers the portal calls through JS interop.
window.llmmPortal = {
  copy: async (text) => { try { await navigator.clipboard.writeText(text); return true; } catch { return false; } },
  download: (name, mime, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: mime }));
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },
};
