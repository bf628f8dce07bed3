// The page's words and time zone. Words come from Django's JavaScriptCatalog (/jsi18n/, loaded by base.html
// before every module; locale/*/djangojs.po): gettext(text) as in Django's templates, fmt() fills %(name)s.
// Times are shown in the reader's zone (their preference, else the server's), given by <meta name="time-zone">.

const catalog = globalThis.django || null;

export function gettext(text) {
  return catalog ? catalog.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  return catalog ? catalog.ngettext(singular, plural, count) : count === 1 ? singular : plural;
}

export function fmt(text, values) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}

export const timeZone = document.querySelector('meta[name="time-zone"]')?.content || undefined;

function parts(time, options) {
  let formatter;
  try {
    formatter = new Intl.DateTimeFormat("en-CA", { timeZone, hourCycle: "h23", ...options });
  } catch {
    formatter = new Intl.DateTimeFormat("en-CA", { hourCycle: "h23", ...options }); // an unknown zone: the browser's
  }
  return Object.fromEntries(formatter.formatToParts(time).map((p) => [p.type, p.value]));
}

// "18:04:05" in the reader's zone.
export function zonedClock(time, seconds = true) {
  const p = parts(time, { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) });
  return seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
}

// "2026-12-01 18:04:05" in the reader's zone, as the server renders times.
export function zonedDateTime(time) {
  const p = parts(time, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day} ${zonedClock(time)}`;
}

// "+08:00": the zone's offset at that time.
export function zoneOffset(time) {
  const p = parts(time, { timeZoneName: "longOffset" });
  const name = p.timeZoneName || "GMT";
  return name === "GMT" ? "+00:00" : name.replace("GMT", "");
}
