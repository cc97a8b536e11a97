// @ts-check
// The home page: who are you, and the frameworks searchable by everyday words.
import { $, initPage } from "/static/js/common.js";
import { frameworkBrowser } from "/static/framework.js";

// Cards, e-mails and attestations printed before the pages had addresses of their own pointed
// here: /#/citoyen?numero=…, /#/citoyen/lien/…, /#/verifier. Paper lasts: send them on to the
// page they meant (today's addresses are in app/core/addresses.py).
function printedBefore(hash) {
  const link = hash.match(/^#\/citoyen\/lien\/([\w-]+)/);
  if (link) return `/citoyen#lien=${link[1]}`;
  const citizen = hash.match(/^#\/citoyen(?:\?(.*))?$/);
  if (citizen) return citizen[1] ? `/citoyen#${citizen[1]}` : "/citoyen";
  if (/^#\/verifier/.test(hash)) return "/verifier";
  return null;
}

const before = printedBefore(location.hash);
if (before) location.replace(before);
// No top-level await: older Safari (iOS 12-14, still on many second-hand phones) lacks it.
else initPage("home").then(() => frameworkBrowser($("#referentiels"), $("#recherche"), $("#etat")));
