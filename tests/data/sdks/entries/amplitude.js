// Amplitude (@amplitude/analytics-browser), set up as its README says: a fake API key.
import * as amplitude from "@amplitude/analytics-browser";

amplitude.init("0123456789abcdef0123456789abcdef", { autocapture: true });
amplitude.track("Signed up", { plan: "free" });
window.__sdkRan = true;
