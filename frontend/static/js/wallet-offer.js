// Adding chosen skills to a digital identity wallet (OpenID4VCI, docs/wallet.md): the offer's QR
// code for the wallet app's camera, a link for a wallet on this very phone, and the 6-digit code
// shown apart (it is not in the QR: someone who photographs the QR still cannot use it).
import { el, formatDateTime, t } from "/static/js/common.js";
import { skillLabel } from "/static/js/passport-view.js";

/**
 * @typedef {object} WalletOffer
 * @property {number} id
 * @property {string} offer_uri     openid-credential-offer://?credential_offer=…
 * @property {string} qr_svg        the offer URI as a QR code (SVG)
 * @property {string} tx_code       the PIN, 6 digits
 * @property {string} expires_at    ISO date-time
 * @property {string[]} skills
 * @property {boolean} with_name
 */

/**
 * @typedef {object} OfferContent  what the page knows to name the offer's content
 * @property {Map<string, object>} skills  the framework's skills by code (skillsByCode), for
 *   their labels in the page's language; a code not there is shown as it is
 * @property {{first_name: string | null, last_name: string | null}} holder  the passport, whose
 *   name is shown only if the offer carries it
 */

/**
 * The PIN in two groups of three, easier to read out and to type.
 * @param {string} pin
 * @returns {string}
 */
export function spacedPin(pin) {
  return pin.length === 6 ? `${pin.slice(0, 3)} ${pin.slice(3)}` : pin;
}

/**
 * The card that shows an offer: QR, link, PIN and until when it works.
 * @param {WalletOffer} offer
 * @param {"mediator" | "citizen"} who  whose screen it is (the wording differs)
 * @param {OfferContent} content
 * @returns {HTMLElement}
 */
export function offerCard(offer, who, content) {
  const name = [content.holder.first_name, content.holder.last_name].filter(Boolean).join(" ");
  const qr = el("img", {
    class: "qr wallet-offer__qr",
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(offer.qr_svg)}`,
    alt: t("wallet.qr_alt"),
    width: 280,
    height: 280,
  });
  return el("div", { class: "wallet-offer fr-p-3w", "data-wallet-offer": offer.id },
    el("h3", { class: "fr-h5", text: t("wallet.offer_ready") }),
    // What the wallet will receive, to check before the person scans.
    el("p", { class: "fr-mb-1w", text: t("wallet.offer_holds") }),
    el("ul", { class: "wallet-offer__skills" },
      ...offer.skills.map((code) => el("li", {}, el("span", { class: "skill-code", text: code }), " — ", skillLabel(content.skills, code)))),
    el("p", {
      class: "fr-text--sm",
      "data-offer-name": "",
      text: offer.with_name && name ? t("wallet.offer_name", { name }) : t(`wallet.offer_no_name_${who}`),
    }),
    el("p", { text: t(`wallet.offer_scan_${who}`) }),
    qr,
    el("p", { class: "fr-mt-2w" }, el("a", {
      class: "fr-link fr-icon-external-link-line fr-link--icon-right",
      href: offer.offer_uri,
      text: t("wallet.offer_link"),
    })),
    el("div", { class: "fr-callout wallet-offer__pin" },
      el("p", { class: "fr-callout__title", text: t("wallet.pin_label") }),
      el("p", { class: "fr-callout__text wallet-offer__digits", "data-pin": "", text: spacedPin(offer.tx_code) }),
      el("p", { class: "fr-text--sm fr-mb-0", text: t(`wallet.pin_hint_${who}`) })),
    el("p", { class: "fr-text--sm fr-mb-0", text: t("wallet.offer_until", { time: formatDateTime(offer.expires_at) }) }));
}
