// @ts-check
// The skill picker of the validation form: a combobox (WAI-ARIA 1.2 pattern) that searches the
// CRCN competences and the Premiers pas by everyday words ("mail", "CAF", "arnaque"). Arrow keys
// move, Enter chooses, Escape closes; a click works too.
import { $, announce, clear, el, t } from "/static/js/common.js";
import { label, matchSkills } from "/static/framework.js";

const MAX_SHOWN = 12;

export function setupPicker(tree, skills) {
  const input = $("#picker-input");
  const list = $("#picker-list");
  const count = $("#picker-count");
  const chosenBadge = $("#picker-chosen");
  const levelGroup = $("#level-group");
  const levelSelect = $("#record-level");
  const pickable = [...skills.values()].filter((s) => s.frameworkCode === "crcn" || s.frameworkCode === "pp");
  const crcn = tree.frameworks.find((f) => f.code === "crcn");
  clear(levelSelect).append(...((crcn && crcn.levels) || []).map((l) =>
    el("option", { value: l.level, text: t("mediation.level_option", { level: l.level, band: label({ label_fr: l.band_fr, label_en: l.band_en }) }) })));

  let matches = [];
  let active = -1;
  let chosen = null;

  const optionId = (i) => `picker-option-${i}`;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    for (const [i, node] of [...list.children].entries()) {
      node.setAttribute("aria-selected", String(i === active));
      node.classList.toggle("picker__option--active", i === active);
    }
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", optionId(active));
      list.children[active].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  }

  function update() {
    matches = matchSkills(pickable, input.value).slice(0, MAX_SHOWN);
    clear(list).append(...matches.map((skill, i) =>
      el("li", {
        id: optionId(i),
        role: "option",
        "aria-selected": "false",
        class: "picker__option",
        onmousedown: (event) => event.preventDefault(), // keep the focus in the input
        onclick: () => choose(skill),
      },
      el("span", { class: "skill-code", text: skill.code }), " ", label(skill),
      skill.level ? el("span", { class: "fr-text--xs picker__level", text: ` (${t("common.level", { level: skill.level })})` }) : null)));
    const open = matches.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    active = -1;
    input.removeAttribute("aria-activedescendant");
    count.textContent = input.value.trim() ? t("mediation.picker_count", { n: matches.length }) : "";
  }

  function choose(skill) {
    chosen = skill;
    input.value = `${skill.code} — ${label(skill)}`;
    close();
    chosenBadge.textContent = t("mediation.picker_chosen", { skill: `${skill.code} ${label(skill)}` });
    chosenBadge.hidden = false;
    // A Premiers pas skill carries its level; a CRCN competence needs the one observed.
    levelGroup.hidden = skill.frameworkCode === "pp";
    announce(chosenBadge.textContent);
  }

  input.addEventListener("input", () => {
    chosen = null;
    chosenBadge.hidden = true;
    levelGroup.hidden = true;
    update();
  });
  input.addEventListener("keydown", (event) => {
    const open = !list.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) update();
      if (matches.length) highlight((active + 1) % matches.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (matches.length) highlight(active <= 0 ? matches.length - 1 : active - 1);
    } else if (event.key === "Enter" && open && matches.length) {
      event.preventDefault(); // choosing, not submitting the form
      choose(matches[Math.max(active, 0)]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", close);

  return {
    chosen: () => chosen,
    choose,
    reset() {
      chosen = null;
      input.value = "";
      chosenBadge.hidden = true;
      levelGroup.hidden = true;
      close();
      count.textContent = "";
    },
  };
}
