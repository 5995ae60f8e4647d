import type { NextConfig } from "next";
import { staticSecurityHeaders } from "./lib/security/content-security-policy";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // Native and WebAssembly packages are loaded from node_modules at run time instead of being bundled.
  // graphene-pk11 and pkcs11js must be among them: pkcs11js's compiled pkcs11.node cannot be placed in an ESM
  // chunk, and `next build` fails if they are bundled (STACK-NOTES trap 4).
  // prom-client is among them so that the app and server.ts load the very same module (lib/metrics/registry.ts).
  serverExternalPackages: ["@electric-sql/pglite", "@node-rs/argon2", "pino", "postgres", "graphene-pk11", "pkcs11js", "prom-client"],
  typedRoutes: false,
  experimental: {
    serverActions: {
      // Next's default is 1 MB. No form of the bank posts more than a few kilobytes, and the limit is
      // enforced before the action runs, so an anonymous POST to the sign-in action cannot make the server
      // buffer and parse a large body.
      bodySizeLimit: "64kb",
    },
  },
  async headers() {
    return [{ source: "/:path*", headers: staticSecurityHeaders }];
  },
};

export default nextConfig;
