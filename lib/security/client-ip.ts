/**
 * Works out which address a request really came from. Pure and free of `server-only`, because the custom
 * HTTPS server (server.ts) calls it for every request before Next sees the request, and unit tests cover it.
 *
 * Deliberately out of scope: grouping IPv6 clients by their /64 prefix for rate limiting, which the
 * rate-limit code does on top of the address returned here.
 */
import { BlockList, SocketAddress, isIP } from "node:net";
import { ConfigurationError } from "@/lib/env-schema";

const ipv4MappedPrefix = "::ffff:";

/**
 * Returns the canonical text form of an IP address, or "" when the input is not an IP address.
 *
 * One client must always map to one string, otherwise rate limits and audit logs could be split across
 * spellings: IPv4-mapped IPv6 addresses become plain IPv4, and IPv6 is lower-cased and compressed.
 */
export function normaliseIpAddress(address: string): string {
  let candidate = address.trim();
  // Brackets are how IPv6 literals appear in URLs and some proxy headers; they are not part of the address.
  if (candidate.startsWith("[") && candidate.endsWith("]")) candidate = candidate.slice(1, -1);
  // A zone id (`fe80::1%eth0`) names a local interface, which says nothing about who the client is.
  const zoneSeparator = candidate.indexOf("%");
  if (zoneSeparator !== -1 && candidate.includes(":")) candidate = candidate.slice(0, zoneSeparator);
  const family = isIP(candidate);
  if (family === 0) return "";
  let canonical: string;
  try {
    // SocketAddress round-trips through the operating system's address parser, which yields the RFC 5952
    // form: lower-case, leading zeros dropped and the longest run of zero groups compressed.
    canonical = new SocketAddress({ address: candidate, family: family === 4 ? "ipv4" : "ipv6" }).address;
  } catch {
    return "";
  }
  if (canonical.startsWith(ipv4MappedPrefix)) {
    const mapped = canonical.slice(ipv4MappedPrefix.length);
    if (isIP(mapped) === 4) return mapped;
  }
  return canonical;
}

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 4 ? "ipv4" : "ipv6";
}

/**
 * Builds the set of trusted proxies from single addresses and CIDR ranges. Throws a ConfigurationError that
 * names every unusable entry, so that server.ts can refuse to start rather than silently trusting less (or
 * more) than the operator meant.
 */
export function createTrustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  const problems: string[] = [];
  for (const entry of entries) {
    const trimmed = entry.trim();
    const slash = trimmed.indexOf("/");
    const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
    const address = normaliseIpAddress(addressText);
    if (address === "") {
      problems.push(`TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range`);
      continue;
    }
    const family = familyOf(address);
    if (slash === -1) {
      list.addAddress(address, family);
      continue;
    }
    const prefixText = trimmed.slice(slash + 1);
    let prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    // An IPv4-mapped IPv6 range was normalised to IPv4 above, so its prefix must shrink by the 96 mapped bits.
    if (family === "ipv4" && addressText.includes(":")) prefix -= 96;
    const maximumPrefix = family === "ipv4" ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > maximumPrefix) {
      problems.push(`TRUSTED_PROXIES: "${entry}" has an invalid prefix length`);
      continue;
    }
    list.addSubnet(address, prefix, family);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return list;
}

// The configuration hands over the same array for the life of the process, so the parsed list is built once
// per array rather than once per request.
const trustedProxyListCache = new WeakMap<readonly string[], BlockList>();

function trustedProxyListFor(entries: readonly string[]): BlockList {
  let list = trustedProxyListCache.get(entries);
  if (list === undefined) {
    list = createTrustedProxyList(entries);
    trustedProxyListCache.set(entries, list);
  }
  return list;
}

/** Reports whether an address (in any spelling) belongs to a trusted proxy. Non-addresses are never trusted. */
export function isTrustedProxy(address: string | undefined, trustedProxies: readonly string[]): boolean {
  const normalised = normaliseIpAddress(address ?? "");
  if (normalised === "" || trustedProxies.length === 0) return false;
  return trustedProxyListFor(trustedProxies).check(normalised, familyOf(normalised));
}

export type ClientIpInput = {
  /** The TCP peer, `req.socket.remoteAddress`; undefined once the socket has closed. */
  socketAddress: string | undefined;
  /** The raw X-Forwarded-For value(s); Node gives a string, other callers may pass several headers. */
  forwardedFor: string | string[] | undefined;
  /** Addresses and CIDR ranges of the proxies whose X-Forwarded-For entries may be believed. */
  trustedProxies: readonly string[];
};

/**
 * Returns the normalised address of the client, or "" when the socket has no usable peer address.
 *
 * Only a trusted proxy may speak for the client. Each trusted proxy appends the address of whoever connected
 * to it, so the walk goes from the right-most X-Forwarded-For entry leftwards past trusted proxies and stops at
 * the first address that is not one. Everything further left was written by the client and could be forged.
 * For the same reason a malformed entry ends the walk: the hop that wrote it cannot vouch for anything to its
 * left, so the answer falls back to the peer, which at least is a real connection.
 */
export function resolveClientIp(input: ClientIpInput): string {
  const peer = normaliseIpAddress(input.socketAddress ?? "");
  if (peer === "" || !isTrustedProxy(peer, input.trustedProxies)) return peer;
  if (input.forwardedFor === undefined) return peer;
  const joined = Array.isArray(input.forwardedFor) ? input.forwardedFor.join(",") : input.forwardedFor;
  const entries = joined
    .split(",")
    .map((entry) => entry.trim())
    // Empty list elements (`a, , b` or a trailing comma) are legal in HTTP lists and carry no hop.
    .filter((entry) => entry.length > 0);
  for (let index = entries.length - 1; index >= 0; index -= 1) {
    const address = normaliseIpAddress(entries[index] ?? "");
    if (address === "") return peer;
    if (!isTrustedProxy(address, input.trustedProxies)) return address;
  }
  return peer;
}
