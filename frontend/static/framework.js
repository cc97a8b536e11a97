// @ts-check
// The skills frameworks (GET /api/v1/framework): loading once, a flat index searchable by
// everyday words ("mail", "CAF", "arnaque": skills carry keywords), and the home page's browser.
import { currentLang, el, normalise, t } from "/static/js/common.js";

let loading = null;

/** @returns {Promise<FrameworkTree>} */
export function loadFramework() {
  // One request per page; the server answers with an ETag so a reload is cheap too.
  if (!loading) loading = fetch("/api/v1/framework", { headers: { Accept: "application/json" } }).then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  });
  return loading;
}

/** @type {(item: Labelled) => string} */
export const label = (item) => (currentLang() === "en" ? item.label_en : item.label_fr) || item.label_fr;

// Every skill one can validate, with what the search looks in.
/** @param {FrameworkTree} tree @returns {IndexedSkill[]} */
export function skillIndex(tree) {
  const skills = [];
  for (const framework of tree.frameworks) {
    const add = (skill, extra = {}) =>
      skills.push({
        ...skill,
        ...extra,
        frameworkCode: framework.code,
        frameworkName: currentLang() === "en" ? framework.name_en : framework.name_fr,
        haystack: searchable(
          [skill.code, skill.number, skill.label_fr, skill.label_en, ...skill.keywords].join(" "),
        ),
      });
    for (const area of framework.areas) for (const skill of area.competences) add(skill, { areaLabel: label(area) });
    for (const skill of framework.skills) add(skill);
  }
  return skills;
}

// What the search compares: lower case, no accents, no hyphens ("Wi-Fi", "wifi" and "wi-fi"
// are one word; "e-mail" is "email").
const searchable = (text) => normalise(text).replace(/[-\u2010\u2011]/g, "");

// One idea, many spellings: any of them finds what the others find. Each key is a searchable
// word; its value, what to look for (substrings: "mail" is in "email" and "gmail").
const SYNONYMS = new Map(
  [
    [["mail", "email", "mel", "courriel"], ["mail", "courriel"]],
  ].flatMap(([spellings, alternatives]) => spellings.map((s) => [s, alternatives])),
);

/** The query as alternatives per word: every word must match one of its alternatives.
 * @param {string} query @returns {string[][]} */
export function searchTerms(query) {
  return searchable(query)
    .split(/[\s'’]+/)
    .filter(Boolean)
    .map((word) => {
      if (SYNONYMS.has(word)) return SYNONYMS.get(word);
      // A simple French plural ("arnaques", "réseaux"): the singular is in the plural, so the
      // stem finds both. Short words keep their s ("sms", "bus").
      const stem = word.length > 3 && /[sx]$/.test(word) && !/ss$/.test(word) ? word.slice(0, -1) : word;
      return SYNONYMS.get(stem) || [stem];
    });
}

/** @type {(haystack: string, terms: string[][]) => boolean} */
export const matchesTerms = (haystack, terms) =>
  terms.every((alternatives) => alternatives.some((a) => haystack.includes(a)));

// For everyday words ("mail", "wifi", "arnaque") the concrete step a mediator watched comes
// first: Premiers pas, then the CRCN competence it belongs to, then DigComp. A code typed as
// such ("crcn:2.1", "2.1", "PP-06") comes before everything.
const FRAMEWORK_RANK = { pp: 0, crcn: 1, digcomp: 2 };

function codeRank(skill, query) {
  const code = normalise(skill.code);
  const named = query === code || code.endsWith(`:${query}`) || query === normalise(skill.number || "");
  return named ? 0 : 1;
}

/** @param {IndexedSkill[]} skills @param {string} query @returns {IndexedSkill[]} */
export function matchSkills(skills, query) {
  const terms = searchTerms(query);
  if (!terms.length) return [];
  const whole = normalise(query).split(/\s+/).filter(Boolean).join(" ");
  const rank = (skill) => (skill.frameworkCode in FRAMEWORK_RANK ? FRAMEWORK_RANK[skill.frameworkCode] : 3);
  return skills
    .map((skill, index) => ({ skill, index }))
    .filter(({ skill }) => matchesTerms(skill.haystack, terms))
    .sort((a, b) =>
      codeRank(a.skill, whole) - codeRank(b.skill, whole) ||
      rank(a.skill) - rank(b.skill) ||
      a.index - b.index)
    .map(({ skill }) => skill);
}

function skillItem(skill, extra) {
  const item = el("li", { "data-search": skill.haystack },
    el("span", { class: "skill-code", text: skill.code }), " — ", label(skill));
  if (extra) item.append(" ", el("span", { class: "fr-badge fr-badge--sm fr-badge--info", text: extra }));
  return item;
}

// The home page: every framework, filtered as one types.
/** @param {HTMLElement} root @param {HTMLInputElement} search @param {HTMLElement} state */
export async function frameworkBrowser(root, search, state) {
  state.textContent = t("home.loading");
  let tree;
  try {
    tree = await loadFramework();
  } catch {
    state.textContent = t("home.load_failed");
    return;
  }
  const index = new Map(skillIndex(tree).map((s) => [s.code, s]));
  for (const framework of tree.frameworks) {
    const name = currentLang() === "en" ? framework.name_en : framework.name_fr;
    const section = el("section", { class: "fr-mb-6w", "aria-labelledby": `fw-${framework.code}` });
    section.append(el("h3", { id: `fw-${framework.code}`, text: `${name} (${t("home.version", { version: framework.version })})` }));
    for (const area of framework.areas) {
      section.append(el("h4", { class: "fr-h6", text: `${area.number}. ${label(area)}` }));
      const list = el("ul");
      for (const skill of area.competences) {
        const mapped = skill.digcomp.length ? `DigComp ${skill.digcomp.map((c) => c.split(":")[1]).join(", ")}` : "";
        list.append(skillItem(index.get(skill.code), mapped));
      }
      section.append(list);
    }
    if (framework.skills.length) {
      const list = el("ul");
      for (const skill of framework.skills) {
        list.append(skillItem(index.get(skill.code), t("home.crcn_level", { code: skill.crcn.split(":")[1], level: skill.level })));
      }
      section.append(list);
    }
    root.append(section);
  }
  state.textContent = "";
  search.addEventListener("input", () => {
    const terms = searchTerms(search.value);
    let shown = 0;
    for (const item of /** @type {NodeListOf<HTMLLIElement>} */ (root.querySelectorAll("li[data-search]"))) {
      const match = matchesTerms(item.dataset.search, terms);
      item.hidden = !match;
      if (match) shown += 1;
    }
    state.textContent = terms.length ? t("home.found", { n: shown }) : "";
  });
}
