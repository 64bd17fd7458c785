// Search over the site's Pagefind shards (see generator/search.py).
// Only the shards a query needs are loaded: the chosen kind and year, or, for a
// decision number such as “沪市监罚〔2024〕12号”, that year's decisions. Each
// hit is a section of a search document whose anchor (kind--slug[--extra])
// names the record's own page.
const form = document.getElementById("search-form");
const base = new URL(form.dataset.root, location.href);
const input = document.getElementById("q");
const kindSel = document.getElementById("kind");
const yearSel = document.getElementById("year");
const deptSel = document.getElementById("department");
const statusEl = document.getElementById("status");
const list = document.getElementById("results");
const more = document.getElementById("more");
const PAGE = 20;
const YEAR_IN_NUMBER = /[〔\[［(（【]\s*((?:19|20)\d\d)\s*[〕\]］)）】]/;

let manifest = null;
const instances = new Map();
let current = null; // { hits: pagefind results, next: index of next result, shown }

async function loadManifest() {
  if (!manifest) {
    const response = await fetch(new URL("search/shards.json", base));
    if (!response.ok) throw new Error(`shards.json: HTTP ${response.status}`);
    manifest = await response.json();
  }
  return manifest;
}

function route(kind, year, query) {
  let kinds = [kind];
  const m = query.match(YEAR_IN_NUMBER);
  if (m && kind === "entities") { kinds = ["penalties", "licenses"]; year = year || m[1]; }
  const chosen = manifest.shards.filter((s) => kinds.includes(s.kind) && (!year || !s.year || s.year === year));
  return { shards: chosen, kinds };
}

async function instanceFor(shards) {
  const key = shards.map((s) => s.bundle).join("|");
  if (!instances.has(key)) {
    const first = new URL(shards[0].bundle, base).href;
    const pagefind = await import(new URL("pagefind.js", first).href);
    const instance = pagefind.createInstance({ basePath: first });
    for (const s of shards.slice(1)) await instance.mergeIndex(new URL(s.bundle, base).href);
    instances.set(key, instance);
  }
  return instances.get(key);
}

function fillSelectors() {
  const kind = kindSel.value;
  const keepYear = yearSel.value, keepDept = deptSel.value;
  const shards = manifest.shards.filter((s) => s.kind === kind);
  const years = [...new Set(shards.map((s) => s.year).filter(Boolean))].sort().reverse();
  const departments = [...new Set(shards.flatMap((s) => s.departments))].sort();
  yearSel.replaceChildren(new Option("全部年份", ""), ...years.map((y) => new Option(`${y}年`, y)));
  deptSel.replaceChildren(new Option("全部部门", ""), ...departments.map((d) => new Option(d, d)));
  yearSel.disabled = years.length === 0;
  deptSel.disabled = departments.length === 0;
  if (years.includes(keepYear)) yearSel.value = keepYear;
  if (departments.includes(keepDept)) deptSel.value = keepDept;
}

function hrefFor(anchor) {
  const [kind, slug] = anchor.split("--");
  return new URL(`${kind}/${slug}/`, base).href;
}

// Pagefind's excerpt is HTML with <mark> around the hits: parse it inertly and
// keep only text and marks, so record text can never become markup here.
function excerptNodes(excerpt) {
  const doc = new DOMParser().parseFromString(`<p>${excerpt || ""}</p>`, "text/html");
  const out = [];
  for (const node of doc.body.firstChild.childNodes) {
    if (node.nodeName === "MARK") { const m = document.createElement("mark"); m.textContent = node.textContent; out.push(m); }
    else out.push(document.createTextNode(node.textContent));
  }
  return out;
}

function anchorOf(sub) {
  if (sub.anchor && sub.anchor.id) return sub.anchor.id;
  const hash = (sub.url || "").split("#")[1];
  return hash || null;
}

// Loose form for comparing a query with a title: no spaces, brackets unified, upper case.
function norm(text) {
  return (text || "").replace(/\s+/g, "").replace(/[〔［【(（]/g, "[").replace(/[〕］】)）]/g, "]").toUpperCase();
}

async function showMore() {
  const { hits, department, query } = current;
  const batch = [];
  while (current.next < hits.length && batch.length < PAGE) {
    const data = await hits[current.next++].data();
    if (department && (data.meta || {}).department !== department) continue;
    for (const sub of data.sub_results || []) {
      const anchor = anchorOf(sub);
      if (!anchor || !anchor.includes("--")) continue;
      batch.push({ sub, anchor, kind: (data.meta || {}).kind || "", exact: norm(sub.title).includes(query) || norm(sub.excerpt).includes(query) });
    }
  }
  // Pagefind ranks search documents; within what was loaded, an exact match of
  // the whole query (a decision number, a full name or code) comes first.
  batch.sort((a, b) => Number(b.exact) - Number(a.exact));
  for (const { sub, anchor, kind } of batch) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = hrefFor(anchor);
    a.textContent = sub.title;
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = kind;
    const p = document.createElement("p");
    p.append(...excerptNodes(sub.excerpt));
    li.append(a, " ", tag, p);
    list.append(li);
    current.shown++;
  }
  more.hidden = current.next >= hits.length;
  statusEl.textContent = current.shown
    ? `已显示 ${current.shown} 条结果${more.hidden ? "" : "，还有更多"}。`
    : "没有找到匹配的结果。可以换几个字，或选择其他类别、年份。";
}

async function run() {
  const query = input.value.trim();
  list.replaceChildren();
  more.hidden = true;
  if (!query) { statusEl.textContent = ""; return; }
  statusEl.textContent = "正在搜索…";
  const { shards, kinds } = route(kindSel.value, yearSel.value, query);
  if (!shards.length) { statusEl.textContent = "所选类别和年份没有公开的记录。"; return; }
  const instance = await instanceFor(shards);
  const found = await instance.search(query);
  current = { hits: found.results, next: 0, shown: 0, department: deptSel.value, query: norm(query) };
  if (kinds.length > 1) statusEl.textContent = "按决定书文号在行政处罚和行政许可中查找…";
  await showMore();
}

async function start() {
  await loadManifest();
  const params = new URLSearchParams(location.search);
  if (params.get("kind") && [...kindSel.options].some((o) => o.value === params.get("kind"))) kindSel.value = params.get("kind");
  fillSelectors();
  if (params.get("year")) yearSel.value = params.get("year");
  if (params.get("department")) deptSel.value = params.get("department");
  input.value = params.get("q") || "";
  kindSel.addEventListener("change", fillSelectors);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ q: input.value.trim(), kind: kindSel.value });
    if (yearSel.value) params.set("year", yearSel.value);
    if (deptSel.value) params.set("department", deptSel.value);
    history.replaceState(null, "", `?${params}`);
    run().catch(fail);
  });
  more.addEventListener("click", () => showMore().catch(fail));
  await run();
}

function fail(error) {
  statusEl.textContent = `搜索出错：${error.message}`;
  console.error(error);
}

start().catch(fail);
