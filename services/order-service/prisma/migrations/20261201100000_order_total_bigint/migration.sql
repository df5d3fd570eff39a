-- An order's total can exceed 2^31 cents (100 items of 10,000 units at up to 1,000,000.00 each).
ALTER TABLE "orders" ALTER COLUMN "total_cents" SET DATA TYPE BIGINT;
