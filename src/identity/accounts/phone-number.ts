/**
 * Phone numbers are stored in E.164 (+<country code><national number>). Users type them in many
 * ways ("010-1234-5678", "+82 10 1234 5678", "0082 10…"), so input is normalised here once; a
 * full numbering-plan library is more than an auth gateway needs, so only the rules below apply.
 */

interface Region {
  callingCode: string;
  /** Trunk prefix dialled before national numbers, dropped in E.164. */
  trunk?: string;
  /** Length range of the national significant number (without trunk prefix). */
  nsn: [number, number];
}

// Regions whose national format we accept without a + prefix. Others must be typed with +.
const REGIONS: Record<string, Region> = {
  KR: { callingCode: '82', trunk: '0', nsn: [8, 10] },
  JP: { callingCode: '81', trunk: '0', nsn: [9, 10] },
  CN: { callingCode: '86', trunk: '0', nsn: [10, 11] },
  US: { callingCode: '1', trunk: '1', nsn: [10, 10] },
  CA: { callingCode: '1', trunk: '1', nsn: [10, 10] },
  GB: { callingCode: '44', trunk: '0', nsn: [9, 10] },
  DE: { callingCode: '49', trunk: '0', nsn: [6, 13] },
  FR: { callingCode: '33', trunk: '0', nsn: [9, 9] },
  AU: { callingCode: '61', trunk: '0', nsn: [9, 9] },
  IN: { callingCode: '91', trunk: '0', nsn: [10, 10] },
  SG: { callingCode: '65', nsn: [8, 8] },
  VN: { callingCode: '84', trunk: '0', nsn: [9, 10] },
};

export const SUPPORTED_PHONE_REGIONS = Object.keys(REGIONS);

/** Characters people put between digits; anything else makes the input not a phone number. */
const SEPARATORS = /[\s().\-\u00a0]/g;

/** Whether a string looks like an attempt at a phone number (used to classify login identifiers). */
export function looksLikePhone(input: string): boolean {
  return /^\+?[\d\s().\-\u00a0]{6,}$/.test(input.trim());
}

/**
 * E.164 form of `input`, or undefined when it cannot be a phone number. National numbers are read
 * in `defaultRegion`; "+82 010…" (a trunk 0 kept after the country code, common in Korea) is
 * forgiven.
 */
export function normalizePhone(input: string, defaultRegion: string): string | undefined {
  let compact = input.trim().replace(SEPARATORS, '');
  if (compact.startsWith('00')) compact = `+${compact.slice(2)}`;
  if (!/^\+?\d+$/.test(compact)) return undefined;

  let e164: string;
  if (compact.startsWith('+')) {
    e164 = compact;
    for (const region of Object.values(REGIONS)) {
      const prefix = `+${region.callingCode}${region.trunk ?? ''}`;
      if (region.trunk === '0' && e164.startsWith(prefix)) {
        const nsn = e164.slice(prefix.length);
        if (nsn.length >= region.nsn[0] && nsn.length <= region.nsn[1]) e164 = `+${region.callingCode}${nsn}`;
        break;
      }
    }
  } else {
    const region = REGIONS[defaultRegion];
    if (!region) return undefined;
    let nsn = compact;
    if (region.trunk && nsn.startsWith(region.trunk) && nsn.length - region.trunk.length >= region.nsn[0]) {
      nsn = nsn.slice(region.trunk.length);
    }
    if (nsn.length < region.nsn[0] || nsn.length > region.nsn[1]) return undefined;
    e164 = `+${region.callingCode}${nsn}`;
  }
  // E.164: at most 15 digits, no leading zero in the country code; 8 is the shortest in use.
  const digits = e164.slice(1);
  if (digits.length < 8 || digits.length > 15 || digits.startsWith('0')) return undefined;
  return e164;
}
