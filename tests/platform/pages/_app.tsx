import type { AppProps } from "next/app";
import { SessionProvider } from "next-auth/react";

// Every page reads the session through /api/auth/session, as platform pages do.
export default function App({ Component, pageProps }: AppProps) {
  return (
    <SessionProvider>
      <Component {...pageProps} />
    </SessionProvider>
  );
}
