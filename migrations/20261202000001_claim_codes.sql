-- SBR09 claim filing indicators as the 837P 5010 guide lists them, the same
-- list as `homecare_domain::codes::ClaimFilingIndicator` (a test holds the two
-- together). The first list allowed `09`, a 4010 code the renderer refuses.
-- NOT VALID: a payer saved with `09` before stays readable (its claims are
-- refused by the renderer with the field named); every new or changed payer
-- is checked.
alter table payers drop constraint payers_claim_filing_indicator_check;
alter table payers add constraint payers_claim_filing_indicator_check
    check (claim_filing_indicator in ('11', '12', '13', '14', '15', '16', '17', 'AM', 'BL', 'CH',
                                      'CI', 'DS', 'FI', 'HM', 'LM', 'MA', 'MB', 'MC', 'OF', 'TV',
                                      'VA', 'WC', 'ZZ'))
    not valid;

-- USPS state codes addresses on claims use (N402), the same list as
-- `homecare_domain::codes::UsState`; the first check took any two capitals.
alter table agency_settings drop constraint agency_settings_state_check;
alter table agency_settings add constraint agency_settings_state_check
    check (state in ('AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN',
              'IA', 'KS', 'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH',
              'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT',
              'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'AS', 'GU', 'MP', 'PR', 'VI', 'FM', 'MH', 'PW', 'AA',
              'AE', 'AP'))
    not valid;
alter table client_coverages drop constraint client_coverages_state_check;
alter table client_coverages add constraint client_coverages_state_check
    check (state in ('AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN',
              'IA', 'KS', 'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH',
              'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT',
              'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'AS', 'GU', 'MP', 'PR', 'VI', 'FM', 'MH', 'PW', 'AA',
              'AE', 'AP'))
    not valid;
