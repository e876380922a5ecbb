-- Reference data every agency starts with: common HCPCS home-care codes and a
-- private-pay payer with a first rate table. Agencies add their own payers.

insert into service_codes (code, description, unit_minutes) values
    ('T1019', 'Personal care services, per 15 minutes', 15),
    ('S5125', 'Attendant care services, per 15 minutes', 15),
    ('S5130', 'Homemaker service, per 15 minutes', 15),
    ('G0156', 'Services of home health aide, each 15 minutes', 15);

insert into payers (id, name) values
    ('00000000-0000-4000-8000-000000000001', 'Private Pay'),
    ('00000000-0000-4000-8000-000000000002', 'State Medicaid');

insert into rates (id, payer_id, service_code, unit_rate, effective) values
    ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000001', 'T1019', 7.5000, '[2024-01-01,)'),
    ('00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000001', 'S5125', 7.2500, '[2024-01-01,)'),
    ('00000000-0000-4000-8000-000000000103', '00000000-0000-4000-8000-000000000001', 'S5130', 6.0000, '[2024-01-01,)'),
    ('00000000-0000-4000-8000-000000000104', '00000000-0000-4000-8000-000000000001', 'G0156', 8.1000, '[2024-01-01,)'),
    ('00000000-0000-4000-8000-000000000201', '00000000-0000-4000-8000-000000000002', 'T1019', 6.1900, '[2024-01-01,)'),
    ('00000000-0000-4000-8000-000000000202', '00000000-0000-4000-8000-000000000002', 'S5125', 5.8700, '[2024-01-01,)');
