// PostHog (posthog-js), set up as its docs say (posthog.com/docs/libraries/js): a fake project key.
import posthog from "posthog-js";

posthog.init("phc_consentgatetest0000000000000000000000000", {
  api_host: "https://us.i.posthog.com",
  defaults: "2025-05-24",
  opt_out_useragent_filter: true, // the tests run headless Chromium, which PostHog takes for a bot
});
posthog.capture("$pageview");
posthog.capture("signed_up", { plan: "free" });
window.__sdkRan = true;
