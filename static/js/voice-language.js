// The note beside "Generate audio" that the chosen voice does not speak the page's language.
// The server marks each voice (data-speaks) and shows the note for the voice it selects; this
// keeps it in step with the person's choice. It never stops anyone from generating.

/** Shows `note` while the voice chosen in `select` does not speak the page's language. */
export function followVoiceLanguage(select, note) {
  const update = () => {
    const chosen = select.selectedOptions[0];
    note.hidden = !chosen || chosen.dataset.speaks !== "0";
  };
  select.addEventListener("change", update);
  update();
  return update;
}

const select = document.getElementById("reader-voice");
const note = document.getElementById("reader-voice-language");
if (select && note) followVoiceLanguage(select, note);
