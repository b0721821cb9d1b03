// The kiosk's screen: renders what the agent pushes over server-sent events (no polling).
"use strict";

const TEXT = {
  fr: {
    starting: ["Démarrage…", "JARVIS se prépare."],
    tap: ["Badgez pour parler à JARVIS", "Posez votre badge sur le lecteur."],
    checking: ["Un instant…", "Je vérifie votre badge."],
    welcome: ["Bonjour{name} !", "JARVIS arrive…"],
    listening: ["Je vous écoute", "Parlez naturellement."],
    speaking: ["JARVIS vous répond", ""],
    goodbye: ["À bientôt{name} !", "Bonne séance."],
    offline: ["JARVIS n'est pas joignable", "Réessayez dans quelques minutes ; l'accueil peut vous aider."],
    out_of_service: ["Borne en maintenance", "Merci de vous adresser à l'accueil."],
    unprovisioned: ["Borne à configurer", "Cette borne n'est pas encore reliée à votre salle."],
    stopped: ["Arrêt en cours…", ""],
    steps: [
      "Dans le tableau de bord, créez la borne : un code de six caractères s'affiche.",
      "Sur la borne, lancez <code>sudo jarvis-kiosk provision</code> et saisissez ce code.",
      "Cet écran passe à « Badgez » dès que la borne est configurée.",
    ],
    you: "Vous",
    jarvis: "JARVIS",
    level: "Niveau du micro",
    simulate: "Badge simulé",
    tapButton: "Badger",
    lost: ["Connexion à la borne perdue", "Reconnexion…"],
  },
  en: {
    starting: ["Starting…", "JARVIS is getting ready."],
    tap: ["Tap your badge to talk to JARVIS", "Hold your badge to the reader."],
    checking: ["One moment…", "Checking your badge."],
    welcome: ["Hello{name}!", "JARVIS is joining…"],
    listening: ["I'm listening", "Just speak naturally."],
    speaking: ["JARVIS is answering", ""],
    goodbye: ["See you soon{name}!", "Enjoy your workout."],
    offline: ["JARVIS can't be reached", "Please try again in a few minutes; the front desk can help."],
    out_of_service: ["Kiosk under maintenance", "Please see the front desk."],
    unprovisioned: ["Kiosk not set up yet", "This kiosk is not linked to your gym yet."],
    stopped: ["Stopping…", ""],
    steps: [
      "In the dashboard, create the kiosk: a six-character code is shown.",
      "On the kiosk, run <code>sudo jarvis-kiosk provision</code> and enter that code.",
      "This screen switches to “Tap your badge” once the kiosk is set up.",
    ],
    you: "You",
    jarvis: "JARVIS",
    level: "Microphone level",
    simulate: "Simulated badge",
    tapButton: "Tap",
    lost: ["Lost the kiosk's connection", "Reconnecting…"],
  },
};
const MESSAGE_SHOWN_MS = 8000;

const $ = (id) => document.getElementById(id);
let messageTimer = null;
let shownMessageAt = null;

function words(language) {
  return TEXT[language] || TEXT.en;
}

// What the page has shown, in order (tests read it; a person never sees it).
window.jarvisModes = [];

function render(state) {
  const t = words(state.language);
  window.jarvisModes.push(state.mode);
  document.documentElement.lang = TEXT[state.language] ? state.language : "en";
  document.body.dataset.mode = state.mode;
  const [title, subtitle] = t[state.mode] || t.starting;
  const name = state.member ? " " + state.member : "";
  $("title").textContent = title.replace("{name}", name);
  $("subtitle").textContent = subtitle;
  $("place").textContent = state.kiosk ? `${state.kiosk.gym} · ${state.kiosk.kiosk}` : "";
  $("meter").setAttribute("aria-label", t.level);
  if (state.mode !== "listening") setLevel(0);

  const steps = $("steps");
  steps.hidden = state.mode !== "unprovisioned";
  steps.innerHTML = state.mode === "unprovisioned" ? t.steps.map((s) => `<li>${s}</li>`).join("") : "";

  const captions = $("captions");
  captions.replaceChildren(
    ...state.captions.map((c) => {
      const line = document.createElement("div");
      line.className = `caption ${c.role}${c.final ? "" : " partial"}`;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = c.role === "member" ? t.you : t.jarvis;
      line.append(who, document.createTextNode(c.text));
      return line;
    }),
  );

  showMessage(state.message);

  const form = $("simulate");
  form.hidden = !state.simulate_badge;
  $("badge-label").textContent = t.simulate;
  $("badge-button").textContent = t.tapButton;
}

function showMessage(message) {
  const box = $("message");
  if (!message) {
    box.hidden = true;
    shownMessageAt = null;
    return;
  }
  if (message.at === shownMessageAt) return;
  shownMessageAt = message.at;
  box.textContent = message.text;
  box.lang = message.language;
  box.className = "message" + (message.notice === "handover" ? " info" : "");
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, MESSAGE_SHOWN_MS);
}

function setLevel(level) {
  const percent = Math.round(Math.max(0, Math.min(1, level || 0)) * 100);
  $("level").style.width = `${percent}%`;
  $("meter").setAttribute("aria-valuenow", String(percent));
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("state", (event) => render(JSON.parse(event.data)));
  source.addEventListener("level", (event) => setLevel(JSON.parse(event.data).level));
  source.addEventListener("error", () => {
    // The agent restarted or stopped: EventSource reconnects by itself.
    const t = words(document.documentElement.lang);
    document.body.dataset.mode = "starting";
    $("title").textContent = t.lost[0];
    $("subtitle").textContent = t.lost[1];
  });
}

$("simulate").addEventListener("submit", async (event) => {
  event.preventDefault();
  await fetch("/badge", { method: "POST", body: $("badge").value });
});

connect();
