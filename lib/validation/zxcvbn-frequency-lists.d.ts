/**
 * Types for zxcvbn's ranked word lists (zxcvbn 4.4.2 ships none for this file). Each list is ordered from the
 * most to the least frequent entry, all lower case.
 */
declare module "zxcvbn/lib/frequency_lists" {
  const frequencyLists: Readonly<
    Record<"passwords" | "english_wikipedia" | "female_names" | "surnames" | "us_tv_and_film" | "male_names", readonly string[]>
  >;
  export default frequencyLists;
}
