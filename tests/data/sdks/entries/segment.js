// Segment (@segment/analytics-next), set up as its README says: a fake write key.
import { AnalyticsBrowser } from "@segment/analytics-next";

const analytics = AnalyticsBrowser.load({ writeKey: "cgTestWriteKey0123456789abcdef" });
analytics.page();
analytics.track("Signed up", { plan: "free" });
window.__sdkRan = true;
