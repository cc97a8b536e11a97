// Lists the skills frameworks from GET /api/v1/framework, with a search by everyday words.
const state = document.getElementById("etat");
const root = document.getElementById("referentiels");
const search = document.getElementById("recherche");

const normalise = (text) =>
  text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

function element(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function skillItem(skill, extra) {
  const haystack = normalise([skill.code, skill.label_fr, skill.label_en, ...skill.keywords].join(" "));
  const item = element("li", { "data-search": haystack },
    element("span", { class: "skill-code" }, skill.code), " — ", skill.label_fr);
  if (extra) item.append(" ", element("span", { class: "fr-badge fr-badge--sm fr-badge--info" }, extra));
  return item;
}

function render(tree) {
  for (const framework of tree.frameworks) {
    const section = element("section", { class: "fr-mb-6w", "aria-labelledby": `fw-${framework.code}` });
    section.append(element("h2", { id: `fw-${framework.code}` }, `${framework.name_fr} (version ${framework.version})`));
    for (const area of framework.areas) {
      section.append(element("h3", { class: "fr-h5" }, `${area.number}. ${area.label_fr}`));
      const list = element("ul");
      for (const skill of area.competences) {
        const mapped = skill.digcomp.length ? `DigComp ${skill.digcomp.map((c) => c.split(":")[1]).join(", ")}` : "";
        list.append(skillItem(skill, mapped));
      }
      section.append(list);
    }
    if (framework.skills.length) {
      const list = element("ul");
      for (const skill of framework.skills) {
        list.append(skillItem(skill, `CRCN ${skill.crcn.split(":")[1]}, niveau ${skill.level}`));
      }
      section.append(list);
    }
    root.append(section);
  }
}

function filter() {
  const words = normalise(search.value).split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const item of root.querySelectorAll("li[data-search]")) {
    const match = words.every((w) => item.dataset.search.includes(w));
    item.hidden = !match;
    if (match) shown += 1;
  }
  state.textContent = words.length ? `${shown} compétence(s) trouvée(s)` : "";
}

fetch("/api/v1/framework", { headers: { Accept: "application/json" } })
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then((tree) => {
    render(tree);
    state.textContent = "";
    search.addEventListener("input", filter);
  })
  .catch(() => {
    state.textContent = "Les référentiels n'ont pas pu être chargés. Réessayez dans un instant.";
  });
