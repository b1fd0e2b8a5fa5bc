import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
export default {
  // The test builds each version of this app into a directory of its own and reuses it.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  poweredByHeader: false,
  reactStrictMode: true,
  // This app alone, not the repository around it.
  outputFileTracingRoot: here,
  turbopack: { root: here },
};
