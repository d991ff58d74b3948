// Google Analytics 4 through react-ga4 (a plain gtag.js loader), set up as its README says.
import ReactGA from "react-ga4";

ReactGA.initialize("G-XXXXXXXXXX");
ReactGA.send({ hitType: "pageview", page: "/", title: "Home" });
ReactGA.event({ category: "signup", action: "Signed up", label: "free" });
window.__sdkRan = true;
