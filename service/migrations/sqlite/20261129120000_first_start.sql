-- Whether the first start's demo was made: NULL until the first start decides, then
-- 'made' or 'skipped'. It is decided once, so deleting the demo never brings it back.
ALTER TABLE server_info ADD COLUMN demo TEXT;
