// A small Node application reporting to Resolve with @sentry/node (tests/intake/test_sentry_node.py).
// Usage: node app.js <dsn> <release>
const Sentry = require("@sentry/node");

Sentry.init({ dsn: process.argv[2], release: process.argv[3], defaultIntegrations: false });

function parseCart(text) {
  return JSON.parse(text).items.length;
}

function checkout(text) {
  return parseCart(text) * 2;
}

try {
  checkout("{}");
} catch (err) {
  Sentry.captureException(err);
}

Sentry.flush(10000).then((ok) => {
  console.log(JSON.stringify({ flushed: ok }));
  process.exit(ok ? 0 : 1);
});
