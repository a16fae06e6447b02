/** Tables of 0005_wallet (src/store/migrations/wallet.ts). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the migration's owner
export interface WalletTables {}
