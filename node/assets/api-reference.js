// Renders this node's OpenAPI document with the vendored Swagger UI (assets/swagger-ui/): no CDN,
// and no inline script, so the pages' Content-Security-Policy holds. The validator badge is off:
// it would send the document to validator.swagger.io.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
  });
});
