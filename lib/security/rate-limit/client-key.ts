/**
 * The key a client is counted under. IPv4 clients are counted per address. IPv6 clients are counted per /64
 * prefix: one subscriber is routinely handed a whole /64, so counting single IPv6 addresses would let one
 * client rotate through billions of fresh budgets.
 */
import { isIP } from "node:net";
import { normaliseIpAddress } from "@/lib/security/client-ip";

function expandIpv6(address: string): string[] {
  const [head = "", tail] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array.from({ length: missing }, () => "0"), ...tailGroups].map((group) =>
    group.padStart(4, "0"),
  );
}

export function clientKeyForIp(rawAddress: string | null | undefined): string {
  const address = normaliseIpAddress(rawAddress ?? "");
  // Without a known address (only possible under `next dev`, where server.ts does not run) all such
  // requests share one budget, which errs on the side of limiting.
  if (address === "") return "ip:unknown";
  if (isIP(address) === 4) return `ip:${address}`;
  return `ip6:${expandIpv6(address).slice(0, 4).join(":")}::/64`;
}
