// Cards and 3-D Secure on the billing pages, with the payment provider's
// own script (Stripe.js, loaded before this one on those pages only). The
// card number goes from the provider's card element to the provider; this
// script hands the server only the payment method's id, through the
// page's own form.
"use strict";

(() => {
  if (typeof window.Stripe !== "function") return;

  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  function showError(form, message) {
    const box = form.querySelector("[data-stripe-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function ready(form, button) {
    const note = form.querySelector("[data-needs-script]");
    if (note) note.hidden = true;
    button.hidden = false;
  }

  // Adding a card: a SetupIntent from the server, confirmed here with the
  // card element, then the form posts the payment method it made.
  const cardForm = document.querySelector("form[data-card-form]");
  if (cardForm) {
    const stripe = window.Stripe(cardForm.dataset.publishableKey);
    const card = stripe.elements().create("card");
    card.mount("#card-element");
    const button = cardForm.querySelector("[data-card-submit]");
    ready(cardForm, button);
    let busy = false;
    cardForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      showError(cardForm, "");
      try {
        const res = await fetch(cardForm.dataset.setup, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json", "x-csrf-token": csrf() },
          body: "{}",
        });
        const setup = await res.json().catch(() => ({}));
        if (!res.ok) {
          throw new Error((setup.error && setup.error.message) || "the card could not be added; try again");
        }
        const result = await stripe.confirmCardSetup(setup.client_secret, {
          payment_method: { card },
        });
        if (result.error) {
          throw new Error(result.error.message || "the card was refused");
        }
        const pm = result.setupIntent.payment_method;
        cardForm.elements.payment_method.value = typeof pm === "string" ? pm : pm.id;
        cardForm.submit();
      } catch (e) {
        const text = String((e && e.message) || e);
        showError(cardForm, text.charAt(0).toUpperCase() + text.slice(1));
        busy = false;
        button.disabled = false;
      }
    });
  }

  // A payment the bank wants confirmed: the provider asks the card holder,
  // then the form asks the server for the payment again, whatever came of
  // it (the server learns the outcome from the provider).
  const payForm = document.querySelector("form[data-confirm-payment]");
  if (payForm) {
    const stripe = window.Stripe(payForm.dataset.publishableKey);
    const button = payForm.querySelector("[data-confirm-button]");
    ready(payForm, button);
    button.addEventListener("click", async () => {
      button.disabled = true;
      showError(payForm, "");
      const result = await stripe.confirmCardPayment(payForm.dataset.clientSecret).catch((e) => ({ error: e }));
      if (result && result.error && result.error.message) {
        showError(payForm, result.error.message);
      }
      payForm.submit();
    });
  }
})();
