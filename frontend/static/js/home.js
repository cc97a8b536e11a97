// The home page: who are you, and the frameworks searchable by everyday words.
import { $, initPage } from "/static/js/common.js";
import { frameworkBrowser } from "/static/framework.js";

// No top-level await: older Safari (iOS 12-14, still on many second-hand phones) lacks it.
initPage("home").then(() => frameworkBrowser($("#referentiels"), $("#recherche"), $("#etat")));
