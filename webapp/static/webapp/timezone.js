/* The reader's timezone for the server: the browser's IANA zone name (e.g. "Europe/Paris") in the tz cookie,
   which pages read to show times in it until the worker sets a timezone in their profile (webapp.views.base).
   A static file (the CSP forbids inline scripts); it only writes the cookie when the zone changed. */
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone.length > 64) return;
  var current = document.cookie.split("; ").filter(function (c) { return c.indexOf("tz=") === 0; })[0];
  if (current === "tz=" + encodeURIComponent(zone)) return;
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
})();
