/*
 * Behaviour every page shares. Plain JavaScript with no dependencies, loaded as a file (the
 * Content-Security-Policy forbids inline scripts). Every page works without it: forms post to
 * the server. With it, forms marked data-api-url call the JSON API instead and refresh only the
 * parts of the page they change; dialogs open as modals; documents being processed are watched.
 */
(function () {
  "use strict";

  const gettext = window.gettext || ((text) => text);
  const interpolate =
    window.interpolate ||
    ((format, values) => format.replace(/%\((\w+)\)s/g, (_match, key) => String(values[key])));

  // --- Talking to the API ------------------------------------------------------------------

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function errorMessage(data) {
    const error = data && data.error;
    if (!error || !error.message) {
      return gettext("Something went wrong. Please try again.");
    }
    const parts = [error.message];
    for (const messages of Object.values(error.fields || {})) {
      for (const message of [].concat(messages)) {
        if (typeof message === "string" && !parts.includes(message)) {
          parts.push(message);
        }
      }
    }
    return parts.join(" ");
  }

  async function api(url, options) {
    const method = (options && options.method) || "GET";
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (options && options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (_error) {
      return {
        ok: false,
        status: 0,
        data: null,
        message: gettext("Pagecast could not be reached. Check your connection and try again."),
      };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (_error) {
        data = null;
      }
    }
    return {
      ok: response.ok,
      status: response.status,
      data: data,
      message: response.ok ? "" : errorMessage(data),
    };
  }

  // --- Telling people what happened ----------------------------------------------------------

  function liveRegionFor(near) {
    if (near && near.querySelector) {
      const own = near.querySelector("[data-live]");
      if (own) {
        return own;
      }
      const scope = near.closest("[data-live-scope]");
      const scoped = scope && scope.querySelector("[data-live]");
      if (scoped) {
        return scoped;
      }
    }
    return document.getElementById("announcer");
  }

  function announce(message, near) {
    const region = liveRegionFor(near);
    if (!region || !message) {
      return;
    }
    // Emptied first, so the same words said twice are announced twice.
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = message;
    }, 50);
  }

  // --- Refreshing parts of the page ----------------------------------------------------------

  function focusInside(node) {
    const target = node.hasAttribute("tabindex")
      ? node
      : node.querySelector("a[href], button:not([disabled]), input, select, textarea") || node;
    target.focus();
  }

  /* Fetch this page again and swap in the fresh copies of the elements with these ids. */
  async function refreshRegions(ids) {
    let response;
    try {
      response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch (_error) {
      return false;
    }
    if (!response.ok) {
      return false;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ids) {
      const current = document.getElementById(id);
      if (!current) {
        continue;
      }
      const hadFocus = current.contains(document.activeElement);
      const replacement = fresh.getElementById(id);
      if (!replacement) {
        current.remove();
        continue;
      }
      const node = document.importNode(replacement, true);
      current.replaceWith(node);
      enhance(node);
      if (hadFocus) {
        focusInside(node);
      }
    }
    if (fresh.title) {
      document.title = fresh.title;
    }
    watchAll(document);
    return true;
  }

  // --- Dialogs -----------------------------------------------------------------------------

  function openDialog(dialog) {
    if (typeof dialog.showModal !== "function") {
      return false;
    }
    if (dialog.open) {
      dialog.close();
    }
    dialog.showModal();
    const first = dialog.querySelector("[autofocus], input:not([type=hidden]), select, textarea");
    if (first) {
      first.focus();
    }
    return true;
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-dialog]");
    if (!opener) {
      return;
    }
    const dialog = document.getElementById(opener.dataset.dialog);
    if (dialog && openDialog(dialog)) {
      event.preventDefault();
    }
  });

  // --- Menus ---------------------------------------------------------------------------------

  // A menu is a <details data-menu>: it opens and closes without JavaScript. With it, one menu
  // is open at a time, and a click elsewhere or Escape closes it (Escape gives focus back to its
  // button).
  function closeMenus(except) {
    for (const menu of document.querySelectorAll("details[data-menu][open]")) {
      if (menu !== except) {
        menu.open = false;
      }
    }
  }

  document.addEventListener("click", (event) => {
    closeMenus(event.target.closest("details[data-menu]"));
  });

  document.addEventListener("focusin", (event) => {
    closeMenus(event.target.closest("details[data-menu]"));
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") {
      return;
    }
    const menu = event.target.closest && event.target.closest("details[data-menu][open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  // --- Typing the title to confirm a deletion --------------------------------------------------

  function updateConfirm(form) {
    const input = form.querySelector("[data-confirm-input]");
    const button = form.querySelector("[data-confirm-submit]");
    if (input && button) {
      button.disabled = input.value.trim() !== (input.dataset.expected || "").trim();
    }
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches("[data-confirm-input]") && event.target.form) {
      updateConfirm(event.target.form);
    }
  });

  // --- Forms that call the API ---------------------------------------------------------------

  // Fields the server-side form needs but the API does not take.
  const NOT_FOR_THE_API = new Set(["csrfmiddlewaretoken", "next", "confirm_title"]);

  function formBody(form) {
    const body = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (!NOT_FOR_THE_API.has(name) && typeof value === "string") {
        body[name] = value;
      }
    }
    return body;
  }

  function setBusy(form, busy) {
    form.toggleAttribute("aria-busy", busy);
    for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
      if (button.getAttribute("formmethod") !== "dialog") {
        button.disabled = busy;
      }
    }
    if (!busy) {
      updateConfirm(form);
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.apiUrl) {
      return;
    }
    if (event.submitter && event.submitter.getAttribute("formmethod") === "dialog") {
      return;
    }
    event.preventDefault();
    if (form.hasAttribute("aria-busy")) {
      return;
    }
    const input = form.querySelector("[data-confirm-input]");
    if (input && input.value.trim() !== (input.dataset.expected || "").trim()) {
      return;
    }
    const errorBox = form.querySelector("[data-form-error]");
    if (errorBox) {
      errorBox.textContent = "";
    }
    const method = (form.dataset.apiMethod || "POST").toUpperCase();
    const body = formBody(form);
    setBusy(form, true);
    const result = await api(form.dataset.apiUrl, {
      method: method,
      // A DELETE carries a body only when the form asks for something (removing a share with
      // the shares that person granted).
      body: method === "DELETE" && Object.keys(body).length === 0 ? undefined : body,
    });
    setBusy(form, false);
    if (!result.ok) {
      if (errorBox) {
        errorBox.textContent = result.message;
      } else {
        announce(result.message, form);
      }
      return;
    }
    if (form.dataset.redirect) {
      window.location.assign(form.dataset.redirect);
      return;
    }
    const dialog = form.closest("dialog");
    const near = form.hasAttribute("data-close-on-success") ? null : dialog || form;
    if (dialog && form.hasAttribute("data-close-on-success")) {
      dialog.close();
    }
    if (form.hasAttribute("data-reset")) {
      form.reset();
    }
    if (form.dataset.refresh) {
      await refreshRegions(form.dataset.refresh.split(/\s+/));
    }
    announce(form.dataset.success, near && near.isConnected ? near : null);
    form.dispatchEvent(new CustomEvent("pagecast:success", { detail: result.data }));
  });

  // --- Watching documents that are being processed ---------------------------------------------

  const FIRST_DELAY_MS = 1000;
  const LONGEST_DELAY_MS = 10000;

  function watch(element) {
    if (element.dataset.watching) {
      return;
    }
    element.dataset.watching = "true";
    let delay = FIRST_DELAY_MS;
    const check = async () => {
      if (!element.isConnected) {
        return;
      }
      const result = await api(element.dataset.watch);
      if (!element.isConnected || result.status === 404) {
        return;
      }
      if (result.ok && result.data && result.data.status !== element.dataset.status) {
        const ids = (element.dataset.refresh || element.id).split(/\s+/);
        await refreshRegions(ids);
        // The status as the watched element now shows it: its badge, and what goes with it
        // ([data-status-detail]: "12 pages").
        const fresh = document.getElementById(element.id) || document.getElementById(ids[0]);
        const parts = fresh
          ? [fresh.querySelector(".badge"), ...fresh.querySelectorAll("[data-status-detail]")]
          : [];
        const said = parts
          .filter(Boolean)
          .map((part) => part.textContent.trim().replace(/\s+/g, " "))
          .filter(Boolean);
        announce(
          interpolate(
            gettext("%(title)s: %(status)s"),
            { title: result.data.title, status: said.join(", ") || result.data.status },
            true,
          ),
        );
        return;
      }
      delay = Math.min(delay * 1.5, LONGEST_DELAY_MS);
      window.setTimeout(check, delay);
    };
    window.setTimeout(check, delay);
  }

  function watchAll(root) {
    for (const element of root.querySelectorAll("[data-watch]")) {
      watch(element);
    }
  }

  // --- Start ---------------------------------------------------------------------------------

  function enhance(root) {
    for (const form of root.querySelectorAll("form")) {
      if (form.querySelector("[data-confirm-input]")) {
        updateConfirm(form);
      }
    }
  }

  function start() {
    enhance(document);
    watchAll(document);
    // A dialog the server rendered open (?dialog=…) becomes a proper modal, and the address
    // forgets it so refreshing the page does not open it again.
    const url = new URL(window.location.href);
    if (url.searchParams.has("dialog")) {
      const dialog = document.querySelector("dialog[open]");
      if (dialog) {
        openDialog(dialog);
      }
      url.searchParams.delete("dialog");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  window.Pagecast = {
    announce: announce,
    api: api,
    closeMenus: closeMenus,
    csrfToken: csrfToken,
    errorMessage: errorMessage,
    gettext: gettext,
    interpolate: interpolate,
    refreshRegions: refreshRegions,
    updateConfirm: updateConfirm,
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
