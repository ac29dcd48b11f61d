// Small helpers the portal calls through JS interop, and the search box's suggestions.
window.llmmPortal = {
  copy: async (text) => { try { await navigator.clipboard.writeText(text); return true; } catch { return false; } },
  download: (name, mime, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: mime }));
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },
  // A session renewed inside a live circuit (already encrypted by the server) is stored as the cookie again.
  keepSession: async (session) => {
    await fetch('portal/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Llmm-Portal': '1' },
      body: JSON.stringify({ session }),
    });
  },
};

// Search-as-you-type suggestions, debounced: the box itself is a plain input, so no keystroke is ever lost, and
// Enter submits its form. Works on every page that has an input with data-suggest="<datalist id>".
(() => {
  let timer = 0, controller = null;
  document.addEventListener('input', (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.suggest) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      controller?.abort();
      controller = new AbortController();
      const list = document.getElementById(box.dataset.suggest);
      const text = box.value.trim();
      if (!list) return;
      if (!text) { list.replaceChildren(); return; }
      try {
        const answer = await fetch('portal/suggestions?q=' + encodeURIComponent(text), { signal: controller.signal, credentials: 'same-origin' });
        if (!answer.ok) return;
        const names = await answer.json();
        list.replaceChildren(...names.map((name) => { const o = document.createElement('option'); o.value = name; return o; }));
      } catch { /* aborted by the next keystroke, or offline: no suggestions */ }
    }, 250);
  });
})();

// Times rendered by the server in UTC (<time data-local-time>) are shown in the viewer's time zone, the exact moment
// on hover; again after an enhanced navigation and whenever a live page renders new ones.
(() => {
  const short = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const exact = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, timeZoneName: 'long',
  });
  const localize = () => {
    for (const t of document.querySelectorAll('time[data-local-time]')) {
      if (t.dataset.localized === t.dateTime) continue;
      const d = new Date(t.dateTime);
      if (isNaN(d)) continue;
      t.dataset.localized = t.dateTime;
      t.textContent = short.format(d);
      t.title = exact.format(d);
    }
  };
  document.addEventListener('DOMContentLoaded', localize);
  if (document.readyState !== 'loading') localize();
  new MutationObserver(localize).observe(document.documentElement, { childList: true, subtree: true });
})();
