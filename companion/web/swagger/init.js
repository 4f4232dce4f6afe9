// Starts Swagger UI on the companion's own OpenAPI document (served with a 'self'-only CSP,
// so this lives in a file, not inline).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    withCredentials: true,
  });
});
