// The /docs page's start-up, a file of its own so the page's policy can refuse inline script.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#api-docs",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
