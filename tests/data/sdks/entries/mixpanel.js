// Mixpanel (mixpanel-browser), set up as its README says (its core loader: no session recorder): a fake project token.
import mixpanel from "mixpanel-browser/src/loaders/loader-module-core";

mixpanel.init("0123456789abcdef0123456789abcdef", { autocapture: true, track_pageview: true });
mixpanel.track("Signed up", { plan: "free" });
window.__sdkRan = true;
