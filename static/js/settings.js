/* Settings: play a preview of the voice chosen in the list before saving it. */
(function () {
  "use strict";

  function start() {
    const button = document.querySelector("[data-voice-preview]");
    const player = document.getElementById("voice-preview-player");
    if (!button || !player) {
      return;
    }
    const select = document.getElementById(button.dataset.for);
    button.hidden = false;
    button.addEventListener("click", () => {
      const voice = select.value || button.dataset.defaultVoice;
      player.src = button.dataset.sampleUrl.replace("VOICE_ID", encodeURIComponent(voice));
      player.hidden = false;
      player.play().catch(() => {
        // Autoplay refused or the preview failed: the visible player lets people try again.
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
