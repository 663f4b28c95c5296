declare const service: unique symbol

/**
 * An injection token for a `T`: a plain symbol (`Symbol.for("dtma/<Name>")`) that carries the type
 * of what is bound to it, so a composition root resolves it without a cast at each use.
 */
export type Token<T> = symbol & { readonly [service]?: T }

export const token = <T>(key: string): Token<T> => Symbol.for(key) as Token<T>
