// Shapes shared by the pages' scripts, for their JSDoc types (`@param {StaffSession} session`):
// global declarations read by `tsc --checkJs` only (make jscheck), never served. The API's own
// schemas (app/*/schemas.py) are the truth; these say what the pages read of them.

/** An RFC 9457 problem document, with the stable `code` of app/core/problems.py. */
interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  retry_after_minutes?: number;
  [extension: string]: unknown;
}

/** A staff account as the API shows it (AccountPublic). */
interface Account {
  id: number;
  email: string;
  display_name: string;
  role: "mediator" | "territory_admin" | "platform_admin";
  territory_code: string | null;
  structure_ids: number[];
  is_active: boolean;
  has_password: boolean;
  created_at: string;
  last_login_at: string | null;
}

/** GET /api/v1/auth/session (SessionPublic). */
interface StaffSession {
  account: Account;
  via: "session" | "token";
  csrf_token: string | null;
  idle_timeout_seconds: number | null;
  expires_at: string | null;
}

/** What a staff page does once it knows whether this tab has a staff session (startStaffPage). */
interface StaffStart {
  /** Before the session is asked for (the mediator page's offline queue and sign-out wipe). */
  prepare?(): unknown;
  signedIn(session: StaffSession): unknown;
  signedOut(): unknown;
  failed(error: Error): unknown;
}

/** A typed passport number or verification code, checked (checkNumber). */
type CheckedNumber =
  | { number: string; mistake: null; length: number; characters: "" }
  | { number: null; mistake: "length" | "character" | "typo"; length: number; characters: string };

/** el()'s attributes: `text`, `on…` listeners, others set as attributes (false/null skipped). */
type ElementAttributes = Record<string, string | number | boolean | null | undefined | EventListener>;

/** What el() accepts as children: nodes, texts, numbers, lists of them; null/false skipped. */
type ElementChild = Node | string | number | boolean | null | undefined | ElementChild[];

/** dsfrTable()'s options. */
interface DsfrTableOptions {
  caption: string;
  headers?: (string | null | undefined)[];
  rows: HTMLTableRowElement | HTMLTableRowElement[];
  id?: string | null;
  hideCaption?: boolean;
  scroll?: boolean;
  tableClass?: string | null;
  cards?: boolean;
}

/** GET /api/v1/framework (app/framework/schemas.py: FrameworkTree and what it holds). */
interface FrameworkTree {
  version: string;
  frameworks: Framework[];
}

interface Framework {
  code: string;
  version: string;
  name_fr: string;
  name_en: string;
  source: string;
  levels: { level: number; band_fr: string; band_en: string }[];
  areas: FrameworkArea[];
  skills: Skill[];
}

interface FrameworkArea {
  code: string;
  number: string;
  label_fr: string;
  label_en: string;
  competences: Skill[];
}

interface Skill {
  code: string;
  framework: string;
  number: string;
  label_fr: string;
  label_en: string;
  area: string | null;
  crcn: string | null;
  level: number | null;
  digcomp: string[];
  crcn_sources: string[];
  keywords: string[];
}

/** A skill as framework.js's skillIndex() lists it for the search. */
interface IndexedSkill extends Skill {
  frameworkCode: string;
  frameworkName: string;
  haystack: string;
  areaLabel?: string;
}

/** Anything with labels in both languages (framework.js's label()). */
interface Labelled {
  label_fr: string;
  label_en?: string | null;
}
